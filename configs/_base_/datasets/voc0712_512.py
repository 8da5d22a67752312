_base_ = './voc0712.py'
input_size = 512
train_dataloader = dict(
    dataset=dict(
        datasets=[
            dict(
                type='VOCDataset',
                data_root='data/VOCdevkit/',
                year=2007,
                split='trainval',
                pipeline={{_base_.train_pipeline_512}},
            ),
            dict(
                type='VOCDataset',
                data_root='data/VOCdevkit/',
                year=2012,
                split='trainval',
                pipeline={{_base_.train_pipeline_512}},
            ),
        ]
    )
)
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_512}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_512}}))
