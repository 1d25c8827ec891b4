"""Findings: the engine every claim goes through (findings) and the detectors of the
journey's drivers (impact, channels, behaviour), the closed loop, leading indicators
and the effect of actions. Imports the contract and statistics."""
