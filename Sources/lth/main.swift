print("lth: not built yet")
