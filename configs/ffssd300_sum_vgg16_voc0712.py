_base_ = './ffssd300_concat_vgg16_voc0712.py'
model = dict(neck=dict(mode='sum'))  # fused_channels defaults to the paper's best for the mode (384)
