_base_ = './voc0712.py'
train_dataloader = dict(
    dataset=dict(datasets=[dict(d, pipeline=_base_.train_pipeline_512) for d in _base_.voc0712_trainval])
)
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_512}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_512}}))
