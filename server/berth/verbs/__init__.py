"""berth's verbs, one module each; front ends (CLI, hooks, sidecar, LSP) call them."""
