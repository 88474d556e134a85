"""``agent mcp``: the agent and its devices served over the Model Context Protocol (docs/mcp.md).

``server`` builds the MCP server and runs it over stdio or loopback HTTP;
``screen_tools``, ``act_tools`` and ``task_tools`` hold the tools by what they
do (look, act, run a task); ``policy`` says which device allows what;
``workbench`` owns the devices, the model and their runs; ``recording`` keeps
single calls in a run per device; ``calls`` runs each call on a worker thread
that a cancelled call stops. Needs the ``[mcp]`` extra; imported only by
``agent/commands/mcp.py``.
"""
