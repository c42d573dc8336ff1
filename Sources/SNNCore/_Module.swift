import SNNTensor
