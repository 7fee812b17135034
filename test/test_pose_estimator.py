"""BlazePose backends and ``rep-coach form`` on the shared photos (optional extra)."""

import argparse
import json
from pathlib import Path
import urllib.request

import numpy as np
import pytest

mp = pytest.importorskip('mediapipe')
cv2 = pytest.importorskip('cv2')

from rep_coach.cli import form  # noqa: E402
from rep_coach.pose import FormCoach, Lm, make_estimator  # noqa: E402
from rep_coach.pose.mediapipe_backend import wheel_model_paths  # noqa: E402


@pytest.fixture(scope='module')
def photos(shared_data: Path) -> dict:
    d = shared_data / 'pose'
    paths = {n: d / f for n, f in (('perfect', '500_perfect.jpg'),
                                   ('low', '715_low_elbows.jpg'))}
    for p in paths.values():
        if not p.is_file():
            pytest.skip(f'{p} missing')
    return {n: cv2.imread(str(p)) for n, p in paths.items()}


@pytest.fixture(scope='module')
def verdicts(photos) -> dict:
    out = {}
    for name, img in photos.items():
        coach = FormCoach('front_squat', static_image=True)
        out[name] = coach.process(img, 0.0)
        coach.close()
    return out


def test_models_ship_in_the_wheel_and_nothing_downloads(monkeypatch, photos):
    for path in wheel_model_paths():
        assert Path(path).is_file()

    def no_network(*a, **k):
        raise AssertionError('attempted a download')
    monkeypatch.setattr(urllib.request, 'urlopen', no_network)
    for backend in ('mediapipe', 'mediapipe-legacy'):
        est = make_estimator(backend, static_image=True)
        assert est.estimate(photos['perfect'], 0.0) is not None
        est.close()


def test_perfect_photo_has_no_elbows_low(verdicts):
    v = verdicts['perfect']
    assert v.person and v.status == 'ok' and v.view == 'oblique'
    assert 'elbows_low' not in v.faults and 'elbows_low' not in v.unjudged


def test_low_elbows_photo_has_elbows_low(verdicts):
    assert 'elbows_low' in verdicts['low'].faults
    assert verdicts['low'].cues[0] == 'elbows up'


def test_probabilities_and_anatomical_sides(verdicts):
    p = verdicts['perfect'].pose
    assert np.all((p.visibility >= 0) & (p.visibility <= 1))
    assert np.all((p.presence >= 0) & (p.presence <= 1))  # tasks backend reports presence
    # Facing the camera at ~35 deg: subject's left shoulder on the image's right.
    assert p.pixels()[Lm.LEFT_SHOULDER, 0] > p.pixels()[Lm.RIGHT_SHOULDER, 0]


def test_backends_agree(photos):
    res = {}
    for backend in ('mediapipe', 'mediapipe-legacy'):
        est = make_estimator(backend, static_image=True)
        res[backend] = est.estimate(photos['low'], 0.0)
        est.close()
    assert np.isnan(res['mediapipe-legacy'].presence).all()
    diff = np.abs(res['mediapipe'].world - res['mediapipe-legacy'].world)
    assert diff.max() < 0.02  # same networks; metres


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    form.add_parser(parser.add_subparsers())
    return parser.parse_args(['form', *argv])


def test_cli_image_json_and_annotation(shared_data, tmp_path, capsys, photos):
    out = tmp_path / 'low.png'
    rc = form.run(_args(str(shared_data / 'pose' / '715_low_elbows.jpg'), '-o', str(out),
                        '--json'))
    assert rc == 0 and cv2.imread(str(out)).shape == photos['low'].shape
    doc = json.loads(capsys.readouterr().out)
    assert doc['frames'][0]['person'] is True and 'elbows_low' in doc['frames'][0]['faults']
    assert doc['reps'] == []


def test_cli_video(tmp_path, capsys, photos):
    src = tmp_path / 'clip.mp4'
    h, w = photos['perfect'].shape[:2]
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*'mp4v'), 30.0, (w, h))
    for i in range(6):
        writer.write(photos['perfect'] if i < 3 else np.zeros_like(photos['perfect']))
    writer.release()
    out = tmp_path / 'out.mp4'
    assert form.run(_args(str(src), '-o', str(out), '--json')) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f['index'] for f in doc['frames']] == list(range(6))
    assert doc['frames'][0]['person'] and not doc['frames'][5]['person']
    assert out.stat().st_size > 0


def test_cli_bad_input(tmp_path, capsys):
    assert form.run(_args(str(tmp_path / 'missing.mp4'))) == 2
    assert 'missing.mp4' in capsys.readouterr().err


def test_cli_camera_that_does_not_open_is_named_a_camera(capsys):
    # Before: "cannot open 99", which did not say 99 was taken for a camera index.
    assert form.run(_args('99', '--max-frames', '1')) == 2
    assert capsys.readouterr().err.splitlines()[-1] == \
        'rep-coach form: cannot open camera 99 (no such device?)'


def test_cli_truncated_photo_is_judged_with_a_warning(shared_data, tmp_path, capsys):
    # Before: rc 0 and a verdict, with no word that half the photo was missing.
    data = (shared_data / 'pose' / '500_perfect.jpg').read_bytes()
    cut = tmp_path / 'cut.jpg'
    cut.write_bytes(data[:len(data) // 2])
    assert form.run(_args(str(cut))) == 0
    assert f'rep-coach form: warning: {cut}: the JPEG data stops before its end marker FF D9 ' \
        '(truncated or damaged)' in capsys.readouterr().err


def test_truncation_checks_the_end_of_jpeg_and_png_only(tmp_path, photos):
    for ext in ('.jpg', '.png'):
        whole = cv2.imencode(ext, photos['perfect'])[1].tobytes()
        good, cut = tmp_path / f'good{ext}', tmp_path / f'cut{ext}'
        good.write_bytes(whole + b'\0' * 3)   # padding after the end is allowed
        cut.write_bytes(whole[:-100])
        assert form.truncation(str(good)) is None
        assert 'truncated or damaged' in form.truncation(str(cut))
    bmp = tmp_path / 'x.bmp'
    bmp.write_bytes(cv2.imencode('.bmp', photos['perfect'])[1].tobytes()[:-100])
    assert form.truncation(str(bmp)) is None   # not checked


@pytest.mark.parametrize('data', [b'', b'\xff\xd8\xff\xe0 truncated', bytes(range(256))])
def test_an_undecodable_compressed_image_is_one_clear_image_error(data: bytes) -> None:
    # Before: an empty one raised cv2.error, logged by form_coach as two lines naming
    # OpenCV's source file and "!buf.empty()" instead of the message.
    from rep_coach.image_msg import compressed_to_bgr, ImageError
    from rep_coach.runtime.msg import CompressedImage
    msg = CompressedImage()
    msg.format, msg.data = 'jpeg', data
    with pytest.raises(ImageError) as caught:
        compressed_to_bgr(msg)
    assert str(caught.value) == (f"compressed image ('jpeg', {len(data)} bytes) "
                                 'could not be decoded')
