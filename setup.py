"""ament_python package definition of rep_coach (also installs with pip, without ROS)."""

from glob import glob
import os
import re

from setuptools import find_packages, setup

PACKAGE = 'rep_coach'
#: The one version: rep_coach/__init__.py's ``__version__`` (``rep-coach --version`` prints
#: it; package.xml repeats it for ROS, and a test checks the two agree).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), PACKAGE,
                       '__init__.py')) as _init:
    VERSION = re.search(r"^__version__ = '([^']+)'$", _init.read(), re.M).group(1)
NODES = ['imu_publisher', 'rep_segmenter', 'near_failure_classifier', 'audio_feedback',
         'session_recorder', 'form_coach']


def share(subdir: str, pattern: str):
    """Return a data_files entry installing ``pattern`` under share/rep_coach/subdir."""
    return (os.path.join('share', PACKAGE, subdir), sorted(glob(pattern)))


setup(
    name=PACKAGE,
    version=VERSION,
    packages=find_packages(exclude=['test', 'test.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        share('launch', 'launch/*.launch.py'),
        share('config', 'config/*.yaml'),
        share('models', 'models/*.onnx'),
        share('models', 'models/*.md'),
    ],
    python_requires='>=3.10',
    install_requires=[
        'setuptools',
        'numpy>=1.22',
        'scipy>=1.8',
        'pyyaml>=5.4',
        'onnxruntime>=1.16',
        'rosbags>=0.10.4',
        'cyclonedds>=0.10.5; python_version>="3.10"',
        'smbus2>=0.4',
        'tqdm>=4.60',
        'matplotlib>=3.5',
    ],
    extras_require={
        'train': ['torch==2.13.0', 'onnx>=1.15'],
        'pose': ['mediapipe==0.10.21', 'opencv-python-headless>=4.8'],
        'audio': ['sounddevice>=0.4'],
        'test': ['pytest>=7', 'hypothesis>=6', 'flake8>=6', 'pydocstyle>=6', 'mcap>=1.1',
                 # the flake8 plugins of a ROS 2 development setup, which ament_flake8 runs
                 'flake8-blind-except>=0.2', 'flake8-builtins>=2.2', 'flake8-class-newline>=1.6',
                 'flake8-comprehensions>=3.10', 'flake8-deprecated>=2', 'flake8-docstrings>=1.6',
                 'flake8-import-order>=0.18', 'flake8-quotes>=3.3'],
    },
    zip_safe=True,
    maintainer='rep_coach developers',
    maintainer_email='dev@rep-coach.local',
    description='Wrist-IMU strength-training coach on a ROS 2 node graph',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [f'{node} = {PACKAGE}.nodes.{node}:main' for node in NODES]
        + [f'rep-coach = {PACKAGE}.cli:main'],
    },
)
