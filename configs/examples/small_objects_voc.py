# Small, crowded objects (about 8-30 px, tens to an image) in Pascal VOC layout. Copy, edit data_root, classes and
# the tile size, then
#   python tools/train.py configs/examples/small_objects_voc.py
#   python tools/test.py configs/examples/small_objects_voc.py \
#       $(cat work_dirs/small_objects_voc/last_checkpoint) --tile 200
# Layout as configs/examples/custom_voc.py. What it combines (README, "Small objects", has the measured gain):
# - tiles upsampled: 200 px tiles resized to the 300 px input, so objects reach the network 1.5x larger;
# - a stride-8 level: MobileNetV1's block 5 (38x38 at 300) is the first level, and only one extra level follows
#   (the coarse levels of SSD300 take no positives on such objects);
# - priors fitted to the training objects before the first iteration (auto_priors) from small starting scales;
# - Caffe's greedy bipartite matching, so crowded objects that share a best prior each keep one;
# - the head's background prior (its softmax starts at 0.99 background), so thousands of easy negatives do not
#   swamp the first iterations;
# - no zoom out and no random crops: both change object sizes (zoom out shrinks them under the finest level's reach,
#   crops enlarge them past what the test tiles show); photometric distortion and flips only.
_base_ = './custom_voc.py'
data_root = 'data/my_small_voc/'
classes = ('cat', 'dog')
tile_size = 200

model = dict(
    backbone=dict(out_indices=(5, 11, 13)),  # 38x38, 19x19, 10x10 at 300
    neck=dict(extra_channels=((128, 256),), strides=(2,), paddings=(1,), kernel_sizes=(3,)),  # + 5x5
    head=dict(init_background_prob=0.99),
    prior_generator=dict(aspect_ratios=[[2], [2], [2], [2]], s_min=0.05, s_max=0.4),
    matcher=dict(bipartite='greedy'),
)
auto_priors = dict(min_coverage=0.95)  # fit when fewer objects than this have a prior at IoU >= 0.5
tiles = dict(type='TiledDataset', tile_size=tile_size, overlap=0.2, min_visible=0.5, cut='ignore')
images = dict(type='VOCDataset', data_root=data_root, year=None, metainfo=dict(classes=classes))
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,  # tiles of one image in a row share its decode
    dataset=dict(
        tiles,
        _delete_=True,
        dataset=dict(images, split='train'),
        empty_ratio=0.05,
        pipeline=[
            dict(type='PhotometricDistortion'),
            dict(type='RandomFlip', prob=0.5),
            dict(type='Resize', size=(300, 300)),
            dict(type='PackInputs'),
        ],
    ),
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
