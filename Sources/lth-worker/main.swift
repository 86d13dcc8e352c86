print("lth-worker: not built yet")
