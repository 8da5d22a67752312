"""Deployment: export to ONNX (decoding and NMS inside, or raw outputs) and the CPU runtimes that run it."""
