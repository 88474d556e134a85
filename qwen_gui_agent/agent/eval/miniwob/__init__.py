"""MiniWoB++ end to end: ``agent eval miniwob``, the agent playing real web tasks through its own desktop device.

Each episode opens a MiniWoB++ task (the Farama ``miniwob`` package's pages and gymnasium
environment) in a visible Chromium window on an X display, zoomed so the 160x210 task area makes
a usable screen, and runs the ordinary agent loop on a ``desktop::D`` device that captures that
area: mss screenshots, xdotool input, answers parsed and mapped as ``agent run`` does. The
environment gives the instruction and the reward; Selenium opens and resets the task and reads its
state, never types or clicks (except for ``--policy selenium``, the upper bound of the reference
policy).

Modules: ``requirements`` (what must be installed), ``view`` (zoom, scale, CSS px -> screen ->
image), ``displays`` (Xvfb servers), ``browser`` (the Chromium window and its calibration),
``task_env`` (the gymnasium environment of one task on one display), ``tasks`` (the default set),
``reference/`` (the reference policy and its Selenium actor), ``episode`` (one episode as a run),
``runner`` (episodes on a pool of displays), ``results`` / ``report`` (scores, JSON, HTML) and
``command`` (what the CLI calls).
"""
