# SSD300-MobileNet with the example plugin's sigmoid focal loss instead of MultiBox (plugins/focal_loss.py).
_base_ = '../ssd300_mobilenet.py'
custom_imports = dict(imports=['plugins.focal_loss'], allow_failed_imports=False)
model = dict(
    loss=dict(_delete_=True, type='SigmoidFocalLoss', alpha=0.25, gamma=2.0),
    postprocessor=dict(use_sigmoid=True),
)
