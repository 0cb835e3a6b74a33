/* responder/response.c - stub, being written */
