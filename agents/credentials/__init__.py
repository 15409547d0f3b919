"""Cluster credentials from Vault/OpenBao, held in memory only (see vault.py)."""
