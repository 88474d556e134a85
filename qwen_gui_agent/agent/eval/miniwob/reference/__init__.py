"""The reference policy: it reads the task's page (through the environment, which knows the answer) and plays it.

It exists to prove the agent's path, not to score: ``moves`` is what it decides (in the page's CSS
px), ``page`` how it reads the DOM, ``solvers_*`` one small reactive solver per task (each call
looks at the page as it is now and returns the next move), ``answers`` writes a move as a model of
the chosen dialect would answer in the frame of the screenshot it was sent, ``backend`` is the
policy as a model backend for the agent loop, and ``selenium_actor`` plays the same moves through
Selenium directly: the upper bound the agent's path is measured against.
"""
