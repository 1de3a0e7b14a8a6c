module kiln.test/badtarget

go 1.19
