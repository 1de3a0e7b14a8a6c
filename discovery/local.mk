# discovery/local.mk: target discovery (static, file_sd, kubernetes).
