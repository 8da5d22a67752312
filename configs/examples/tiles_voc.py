# Large images, small objects: train on tiles cut from a VOC-style folder of large images, detect tile by tile.
# Copy, edit data_root, classes and the prior sizes (fractions of a tile), then
#   python tools/train.py configs/examples/tiles_voc.py
#   python tools/test.py configs/examples/tiles_voc.py $(cat work_dirs/tiles_voc/last_checkpoint) --tile 300
#   python tools/infer.py configs/examples/tiles_voc.py $(cat work_dirs/tiles_voc/last_checkpoint) big.jpg \
#       --out-dir work_dirs/tiles_voc/big --tile 300
# Layout as configs/examples/custom_voc.py (Annotations/, JPEGImages/, ImageSets/Main/{train,val}.txt); each xml
# needs its <size>. docs/benchmarks.md, "Large images", has the measured difference slicing makes.
_base_ = './custom_voc.py'  # the same model family and from-scratch recipe
data_root = 'data/my_large_voc/'
classes = ('object',)
max_iters = 6000

model = dict(
    backbone=dict(width_mult=0.5),
    # objects of 20-40 px in 300 px tiles: priors from 0.07 to 0.5 of a tile (set them to your objects' sizes)
    prior_generator=dict(s_min=0.07, s_max=0.5),
    matcher=dict(_delete_=True, type='ArgMaxMatcher', matched_threshold=0.5, unmatched_threshold=0.4),
)
tiles = dict(type='TiledDataset', tile_size=300, overlap=0.2, min_visible=0.5, cut='ignore')
images = dict(type='VOCDataset', data_root=data_root, year=None, metainfo=dict(classes=classes))
tile_pipeline = [
    dict(type='PhotometricDistortion'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Resize', size=(300, 300)),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,  # tiles of one image in a row share its decode
    dataset=dict(tiles, _delete_=True, dataset=dict(images, split='train'), empty_ratio=0.1, pipeline=tile_pipeline),
)
val_dataloader = dict(  # per-tile validation during training; tools/test.py --tile scores whole images
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        tiles,
        _delete_=True,
        dataset=dict(images, split='val'),
        empty_ratio=0.0,
        test_mode=True,
        pipeline=[dict(type='Resize', size=(300, 300)), dict(type='PackInputs')],
    ),
)
test_dataloader = dict(
    val_dataloader,
    dataset=dict(images, _delete_=True, split='val', test_mode=True, pipeline={{_base_.test_pipeline_300}}),
)
param_scheduler = [  # the base's, with a shorter warm-up and this max_iters
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-4),
]
train_cfg = dict(max_iters=max_iters)
