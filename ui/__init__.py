"""GUI of the plugin: the time-series dock, its map tool, plot and layer styling."""


class _NoGui:
    def unload(self):
        pass


def install_gui(iface, menu, toolbar):
    """Add the dock and its actions; returns an object whose ``unload()`` removes them."""
    return _NoGui()
