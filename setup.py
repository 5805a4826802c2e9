"""Builds the optional compiled AMI core (telephony/ami/_ccodec*.c); metadata is in pyproject.toml.

The extension is optional: without a C compiler or Python headers the build prints one line and
the install goes on; hotline then runs the pure-Python codec and says so (``hotline --version``).
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """A failed compile is a warning, never a failed install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 (any build failure: fall back to Python)
            self._skip(exc)

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._skip(exc)

    @staticmethod
    def _skip(exc: Exception) -> None:
        print(
            f"hotline: the compiled AMI core was not built ({exc}); "
            "the pure-Python codec will be used",
            file=sys.stderr,
        )


setup(
    ext_modules=[
        Extension(
            "telephony.ami._ccodec",
            sources=[
                "telephony/ami/_ccodec.c",
                "telephony/ami/_ccodec_bytes.c",
                "telephony/ami/_ccodec_frames.c",
                "telephony/ami/_ccodec_prefilter.c",
                "telephony/ami/_ccodec_events.c",
                "telephony/ami/_ccodec_clock.c",
            ],
            depends=["telephony/ami/_ccodec.h"],  # a rebuild when it changes; in the sdist
            extra_compile_args=["-O2", "-Wall", "-Wno-unused-parameter"],
            optional=True,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
