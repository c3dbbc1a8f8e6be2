/* hello.c - the smallest unifaas function: prints a greeting and exits. */
#include <stdio.h>

int main(void)
{
	printf("Hello from a unifaas unikernel!\n");
	return 0;
}
