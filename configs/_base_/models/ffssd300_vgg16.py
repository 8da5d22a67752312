# Feature-Fused SSD (Cao et al. 2017): conv5_3 upsampled and fused into conv4_3.
_base_ = './ssd300_vgg16.py'
model = dict(
    backbone=dict(out_features=('conv4_3', 'conv5_3', 'conv7'), l2_norm_scale=None),
    neck=dict(_delete_=True, type='FeatureFusedNeck', mode='concat'),
)
