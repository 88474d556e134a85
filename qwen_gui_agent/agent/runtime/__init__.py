"""The run itself: the perceive-reason-act loop, its session and steps, history, checks, secrets, console."""
