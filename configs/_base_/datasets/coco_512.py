_base_ = './coco.py'
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline_512}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_512}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_512}}))
