"""Hand-written topic tables of the prompt corpus (pure data)."""
