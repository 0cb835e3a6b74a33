/* responder/request.c - stub, being written */
