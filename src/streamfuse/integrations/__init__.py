"""Optional integrations with other frameworks; none is imported by ``import streamfuse``.

* ``streamfuse.integrations.mmaction``: ``StreamFuseHead``, a drop-in replacement for MMAction2's
  ``RGBPoseHead`` (PoseC3D's RGBPoseConv3D), registered in MMAction2's ``MODELS`` registry when
  that module is imported (``pip install "streamfuse[mmaction]"``).
"""
