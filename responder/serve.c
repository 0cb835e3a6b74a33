/* responder/serve.c - stub, being written */
