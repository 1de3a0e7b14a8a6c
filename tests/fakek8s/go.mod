module kiln.test/fakek8s

go 1.19
