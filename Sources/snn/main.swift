print("snn")
