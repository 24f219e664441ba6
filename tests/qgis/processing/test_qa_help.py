"""QA: what a user reads before running — parameter help, the plugin menu."""

from qgis.core import QgsApplication


def test_every_parameter_of_every_algorithm_has_help(plugin):
    missing = [f"{alg.id()} {p.name()}" for alg in QgsApplication.processingRegistry().providerById("egms").algorithms()
               for p in alg.parameterDefinitions() if not p.help().strip()]
    assert missing == []


def test_sequential_pair_count_is_explained(plugin):
    alg = QgsApplication.processingRegistry().algorithmById("egms:interferograms")
    text = alg.parameterDefinition("SEQUENTIAL_NEIGHBOURS").help()
    assert "n dates" in text and "N·n − N(N+1)/2" in text  # the formula's n is defined


def test_menu_offers_every_merged_algorithm_a_user_starts_from(qgis_iface, without_session_provider):
    import egms_plugin

    instance = egms_plugin.classFactory(qgis_iface)
    instance.initGui()
    try:
        texts = [a.text() for a in instance.actions]
    finally:
        instance.unload()
    # the stack algorithms too: after simulating a stack, forming interferograms is the next step
    for name in ("Simulate SLC stack…", "Form interferograms…", "Calibrate to GNSS…", "Decompose LOS to vertical/east…"):
        assert name in texts, texts
