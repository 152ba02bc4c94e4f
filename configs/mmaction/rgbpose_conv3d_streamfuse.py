# MMAction2's stock RGBPoseConv3D (PoseC3D) config with RGBPoseHead replaced by streamfuse's
# learned-fusion head. Everything else (backbone, data, schedule, load_from) is inherited
# unchanged from configs/skeleton/posec3d/rgbpose_conv3d/rgbpose_conv3d.py of mmaction2 1.2.0.
#
#   pip install "streamfuse[mmaction]"
#   mim train mmaction configs/mmaction/rgbpose_conv3d_streamfuse.py   (or mmaction2's tools/train.py)
#
# In your own copy of the stock config the switch is the head's `type` plus the import line:
#   head_cfg = dict(type='StreamFuseHead', num_classes=60, in_channels=[2048, 512], ...)
# The stock head_cfg's loss_components=['rgb', 'pose'] then add, next to the fused loss, the
# loss of the head with only that pathway present (see StreamFuseHead's docstring).
_base_ = 'mmaction::skeleton/posec3d/rgbpose_conv3d/rgbpose_conv3d.py'

custom_imports = dict(imports=['streamfuse.integrations.mmaction'], allow_failed_imports=False)

model = dict(cls_head=dict(type='StreamFuseHead', fusion='adaptive'))
