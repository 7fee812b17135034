"""What a stage runs (``rep_coach/stage_info.py``), as the pipeline's factories describe it."""

from __future__ import annotations

from dataclasses import asdict, replace
import hashlib
import importlib.util
import json
from pathlib import Path

import pytest

from rep_coach import pipeline
from rep_coach.core.params import defaults
from rep_coach.core.types import PayloadError
from rep_coach.paths import models_dir
from rep_coach.stage_info import Difference, StageInfo

MODELS = models_dir()
needs_models = pytest.mark.skipif(not (MODELS / 'segmenter.onnx').is_file()
                                  or importlib.util.find_spec('onnxruntime') is None,
                                  reason='no committed models or no onnxruntime')


@needs_models
def test_learned_stages_describe_the_onnx_files_they_loaded() -> None:
    segmenter, classifier = pipeline.stage_factories('learned')
    for stage, name in ((segmenter, 'segmenter.onnx'), (classifier, 'near_failure.onnx')):
        data = (MODELS / name).read_bytes()
        info = stage.info
        assert (info.model, info.config) == ('learned', None)
        assert Path(info.model_file.path) == (MODELS / name).resolve()
        assert info.model_file.size == len(data)
        assert info.model_file.sha256 == hashlib.sha256(data).hexdigest()
        # The training metadata as the file stores it, decoded.
        assert info.model_file.metadata['rep_coach']['kind'] == info.stage
    assert segmenter.info.stage == 'segmenter' and classifier.info.stage == 'near_failure'


def test_the_baseline_is_described_by_its_configuration() -> None:
    segmenter, classifier = pipeline.stage_factories('baseline', set_rest_s=12.0, threshold=0.6)
    assert segmenter.info.model_file is None
    assert segmenter.info.config == asdict(segmenter().config)
    assert segmenter.info.config['set_rest_s'] == 12.0
    assert classifier.info.config == asdict(classifier().config)


@pytest.mark.parametrize('model', ['baseline', pytest.param('learned', marks=needs_models)])
def test_the_deciding_parameters_are_those_the_stages_apply(model: str) -> None:
    segmenter, classifier = pipeline.stage_factories(model, set_rest_s=12.0, threshold=0.7)
    assert segmenter.info.parameters == {'set_rest_s': 12.0}
    assert classifier.info.parameters == {'threshold': 0.7} and classifier().threshold == 0.7


@pytest.mark.parametrize('model', ['baseline', pytest.param('learned', marks=needs_models)])
def test_stages_built_without_settings_decide_as_default_nodes(model: str) -> None:
    """``plot``, ``evaluate`` build stages without naming these: they get the nodes' defaults."""
    segmenter, classifier = pipeline.stage_factories(model)
    assert classifier().threshold == defaults('near_failure_classifier')['threshold']
    assert segmenter.info.parameters == {'set_rest_s': defaults('rep_segmenter')['set_rest_s']}


@needs_models
def test_a_learned_threshold_is_the_nodes_not_the_models(tmp_path: Path) -> None:
    onnx = pytest.importorskip('onnx')
    model = onnx.load(str(MODELS / 'near_failure.onnx'))
    entry = next(e for e in model.metadata_props if e.key == 'rep_coach')
    entry.value = json.dumps({**json.loads(entry.value), 'threshold': 0.9})
    onnx.save(model, str(tmp_path / 'near_failure.onnx'))
    import rep_coach.learned as learned
    assert learned.classifier_factory(tmp_path)().threshold == 0.9   # the model's own
    classifier = pipeline.classifier_factory('learned', str(tmp_path))
    assert classifier().threshold == pipeline.DEFAULT_THRESHOLD == \
        defaults('near_failure_classifier')['threshold']
    assert classifier.info.model_file.metadata['rep_coach']['threshold'] == 0.9


@pytest.mark.parametrize('model', ['baseline', pytest.param('learned', marks=needs_models)])
def test_a_description_survives_its_json(model: str) -> None:
    for stage in pipeline.stage_factories(model):
        text = stage.info.to_json()
        assert json.loads(text)['v'] == 1
        assert StageInfo.from_json(text) == stage.info


@pytest.mark.parametrize('payload, words', [
    ('not json', 'bad or missing field'),
    ('[1, 2]', 'bad or missing field'),
    ('{"model": "learned", "parameters": {}}', "'stage'"),
    ('{"stage": "plotter", "model": "learned", "parameters": {}}', "unknown stage 'plotter'"),
    ('{"stage": "segmenter", "model": "learned", "parameters": {"set_rest_s": "x"}}',
     'bad or missing field'),
])
def test_a_bad_description_is_a_payload_error_naming_why(payload: str, words: str) -> None:
    with pytest.raises(PayloadError, match=words.replace('(', r'\(')):
        StageInfo.from_json(payload)


@needs_models
def test_differences_name_what_decides_the_outputs() -> None:
    learned, baseline = pipeline.stage_factories('learned'), pipeline.stage_factories('baseline')
    segmenter, classifier = learned[0].info, learned[1].info
    assert segmenter.differences(segmenter) == []
    assert [d.field for d in classifier.differences(baseline[1].info)] == ['model']
    other = replace(classifier, parameters={'threshold': 0.7})
    assert other.differences(classifier) == [Difference('near_failure', 'threshold', 0.7, 0.5)]
    assert other.differences(classifier)[0].text('replayed') == \
        'near_failure threshold 0.7 (replayed: 0.5)'
    retrained = replace(segmenter, model_file=replace(segmenter.model_file, sha256='ab' * 32))
    assert [d.field for d in retrained.differences(segmenter)] == ['sha256']
    assert retrained.differences(segmenter)[0].text('replayed') == \
        f'segmenter sha256 abababababab (replayed: {segmenter.model_file.sha256[:12]})'
    # The same file elsewhere is the same model.
    moved = replace(segmenter, model_file=replace(segmenter.model_file, path='/elsewhere/x'))
    assert moved.differences(segmenter) == []
    rest = replace(segmenter, parameters={'set_rest_s': 20.0})
    assert [d.field for d in rest.differences(segmenter)] == ['set_rest_s']


def test_a_baseline_configuration_differs_by_its_fields() -> None:
    classifier = pipeline.classifier_factory('baseline').info
    tuned = replace(classifier, config={**classifier.config, 'loss_center': 0.2})
    assert tuned.differences(classifier) == [
        Difference('near_failure', 'loss_center', 0.2, classifier.config['loss_center'])]
    assert classifier.summary() == 'near_failure baseline, threshold 0.5'
