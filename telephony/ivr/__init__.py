"""IVR menus driven by hotline over AsyncAGI.

API (what other features, e.g. the survey IVR, build on):

- :func:`telephony.ivr.menus.load_menus` ``(paths) -> {name: Menu}`` — TOML menus from files or
  directories (``ivr_prompts/``), validated; :class:`~telephony.ivr.menus.MenuError` names file,
  menu, node and field. A menu ends in ``queue``, ``play`` (self-service), ``callback``,
  ``result`` (a value for the dialplan, e.g. a survey rating ``{ result = "1" }``) or ``hangup``.
  A node may end elsewhere than the operator queue when its tries run out (``on_timeout`` /
  ``on_invalid``, ``timeout_retries`` for no key) and a result may first record a comment
  (``record = "prompt"``: ``RECORD FILE``, file in ``HOTLINE_RECORDING``); a given result
  stands if the caller hangs up afterwards. The survey menu: ``ivr_prompts/survey-menu.toml``.
- :class:`telephony.ivr.engine.MenuSession` ``(menu, session_id, language=, announcements=)`` —
  the pure per-channel state machine: ``start(now) -> [Send]``,
  ``on_result(command_id, AgiResult, now) -> [Send]``, ``on_hangup()``; afterwards ``route``
  (:class:`~telephony.ivr.engine.Route`: kind, queue, priority, result, reason) and ``path``.
  When it ends it has set ``HOTLINE_ROUTE``/``HOTLINE_QUEUE``/``HOTLINE_QUEUE_PRIORITY``/
  ``HOTLINE_RESULT``/``HOTLINE_LANGUAGE``/``HOTLINE_IVR_PATH`` on the channel and sent
  ``ASYNCAGI BREAK``.
- :class:`telephony.ivr.sessions.IvrService` ``(sender, menus, default_menu=, announcements=,
  on_finished=)`` — the shell: feed it every event frame (``observe_frame``); a channel running
  ``AGI(agi:async,NAME[,LANGUAGE])`` gets menu ``NAME`` (no argument: the default menu) in
  ``LANGUAGE`` (default: the menu's first language);
  ``on_finished(AgiStart, MenuSession)`` is told the outcome. ``heartbeat(interval)`` keeps the
  global ``HOTLINE_HEARTBEAT`` fresh for the dialplan's fallback.
- :mod:`telephony.ivr.calendar` — business hours and holidays (``Calendar.is_open(when)``).
- :mod:`telephony.ami.agi` — AsyncAGI values: ``AgiStart``, ``AgiResult``, command builders.
"""
