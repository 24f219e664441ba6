"""The plugin's "Animate displacement" action: in the menu and toolbar, and what it tells the user."""

from qgis.core import Qgis, QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsVectorLayer


def _triggered(qgis_iface, layer, check):
    import egms_plugin

    instance = egms_plugin.classFactory(qgis_iface)
    instance.initGui()
    try:
        [action] = [a for a in instance.actions if a.objectName() == egms_plugin.egms_plugin.ANIMATE_ACTION]
        assert action.text() == "Animate displacement"
        assert action in instance.toolbar.actions()
        QgsProject.instance().addMapLayer(layer)
        qgis_iface.setActiveLayer(layer)
        qgis_iface.messageBar().clear_messages()
        action.trigger()
        check(qgis_iface.messageBar())
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
        instance.unload()


def test_action_on_a_layer_without_dates_says_why(qgis_iface, without_session_provider):
    layer = QgsVectorLayer("Point?crs=EPSG:3035&field=pid:string&field=height:double", "no dates", "memory")
    def check(bar):
        [text] = bar.get_messages(Qgis.MessageLevel.Warning)
        assert "“no dates” has no displacement dates" in text

    _triggered(qgis_iface, layer, check)


def test_action_animates_the_active_point_layer(qgis_iface, without_session_provider):
    layer = QgsVectorLayer("Point?crs=EPSG:3035&field=20200101:double&field=20200113:double", "mp", "memory")
    f = QgsFeature(layer.fields())
    f.setAttributes([0.0, -4.0])
    f.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(4e6, 2e6)))
    layer.dataProvider().addFeatures([f])

    def check(bar):
        assert bar.get_messages(Qgis.MessageLevel.Warning) == []
        assert layer.temporalProperties().isActive()
        assert layer.renderer().classAttribute().startswith("with_variable(")
        assert QgsProject.instance().timeSettings().timeStep() == 12.0

    _triggered(qgis_iface, layer, check)
