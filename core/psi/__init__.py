"""The persistent-scatterer chain: network, arc estimation, integration, atmosphere, the chain."""
