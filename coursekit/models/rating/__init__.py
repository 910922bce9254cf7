"""Rating prediction (the course's first part): baselines, matrix factorization and its fast
trainer, neural CF, the autoencoders, the factorization machines on side information,
Surprise beside them, and the blend."""
