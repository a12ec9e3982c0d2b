"""History from before runledger was installed: Argo's workflow archive and KFP's database, imported through
the agent's translate and write path."""
