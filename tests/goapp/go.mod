module kiln.test/goapp

go 1.19
