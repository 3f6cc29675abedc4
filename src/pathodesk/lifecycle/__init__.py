"""The slide life cycle (SPEC E4, E5) as work people and schedules start: applying the
placement policy, running moves as background jobs, organizing a patient's images and
sending a case to its reading station. ``storage`` holds the mechanics."""
