# The paper's training and test pipelines at 512 x 512 (the 300 ones live in voc0712.py / coco.py).
train_pipeline_512 = [
    dict(type='LoadImage'),
    dict(type='PhotometricDistortion'),
    dict(type='Expand', mean=[123.0, 117.0, 104.0], ratio_range=(1, 4)),
    dict(type='MinIoURandomCrop', min_ious=(0.1, 0.3, 0.5, 0.7, 0.9), min_crop_size=0.1),
    dict(type='Resize', size=(512, 512)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
test_pipeline_512 = [dict(type='LoadImage'), dict(type='Resize', size=(512, 512)), dict(type='PackInputs')]
