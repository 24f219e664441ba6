"""The batch command line takes the Processing algorithms' parameters: same names, same limits, same choices."""

import pytest
from qgis.core import QgsApplication, QgsProcessingParameterEnum, QgsProcessingParameterNumber

from egms_plugin.batch.params import GIVEN_OTHERWISE, SPECS


@pytest.mark.parametrize("job", sorted(SPECS))
def test_batch_parameters_are_the_algorithms(plugin, job):
    alg = QgsApplication.processingRegistry().algorithmById(f"egms:{job}")
    definitions = {p.name(): p for p in alg.parameterDefinitions()}
    specs = SPECS[job]
    assert set(specs) <= set(definitions), set(specs) - set(definitions)
    # every parameter of the algorithm is either taken or explained (units, --output-dir, …)
    assert set(definitions) - set(specs) <= set(GIVEN_OTHERWISE), set(definitions) - set(specs) - set(GIVEN_OTHERWISE)
    for name, spec in specs.items():
        p = definitions[name]
        if isinstance(p, QgsProcessingParameterNumber):
            assert spec.kind == ("int" if p.dataType() == QgsProcessingParameterNumber.Integer else "double"), name
            low, high = p.minimum(), p.maximum()
            assert spec.minimum == (low if low > -1e300 else None), (name, spec.minimum, low)
            assert spec.maximum == (high if high < 1e300 else None), (name, spec.maximum, high)
        elif isinstance(p, QgsProcessingParameterEnum):
            assert spec.kind == "enum" and list(spec.options) == list(p.options()), name
