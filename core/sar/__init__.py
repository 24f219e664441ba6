"""The SAR stack: reading, amplitude statistics, pair networks, interferograms, the simulator."""
