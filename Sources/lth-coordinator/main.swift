print("lth-coordinator: not built yet")
