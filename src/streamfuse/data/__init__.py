"""streamfuse datasets: multi-stream classification data as float32 tensors per stream.

``load_data(spec, seed=0, **options) -> MultiStreamData`` where ``spec`` is one of
``list_datasets()`` -- ``"video"`` (generated pose + RGB action clips, ``video.py``),
``"mfeat"`` (UCI Multiple Features, six views, ``mfeat.py``), ``"basicmotions"`` (UEA smart-watch
accelerometer + gyroscope, ``basicmotions.py``) -- or the path of a folder of ``.npz`` files
(format in ``npz_folder.py``). Every dataset takes ``noise=`` and ``drop=`` (``knobs.py``).
Containers and shapes: ``base.py``. Everything rejected raises ``DataError``.
"""

from streamfuse.data.base import DataError, MultiStreamData, Split
from streamfuse.data.registry import list_datasets, load_data, stream_names_of
from streamfuse.data.ts_format import read_ts

__all__ = ["DataError", "MultiStreamData", "Split", "list_datasets", "load_data", "read_ts", "stream_names_of"]
