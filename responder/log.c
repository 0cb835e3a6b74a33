/* responder/log.c - stub, being written */
