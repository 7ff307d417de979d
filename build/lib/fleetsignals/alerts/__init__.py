"""Signal evaluation, alert state, notification sinks and the scheduler."""
