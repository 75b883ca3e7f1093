"""Validation: the contract's row rules, the direct-identifier scan and the asset checks."""
