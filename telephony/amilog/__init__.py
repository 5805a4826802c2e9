"""AMI logs on disk: the journal the daemon writes, the reader of logs and journals, replay
into the pipeline, and the replay server that plays logs as an AMI server (``replay --serve``)."""
