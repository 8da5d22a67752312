_base_ = './ffssd300_concat_vgg16_voc0712.py'
# fused_channels defaults to 384 for sum: the paper's element-sum module (Cao et al. 2017, §4.3) and its best VOC07 mAP
# in Table 2 (78.92); docs/recipes.md gives the source of every number of the neck
model = dict(neck=dict(mode='sum'))
