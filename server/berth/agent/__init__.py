"""Front ends for AI coding agents: ``berth mcp`` (an MCP server on stdio).

:mod:`berth.agent.tools` does what each tool does, with berth's verbs and no MCP;
:mod:`berth.agent.mcp` serves those tools over the Model Context Protocol.
"""
