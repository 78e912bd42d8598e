/* Dies of a real SIGSEGV (built without sanitizers, whose handlers would
 * turn the fault into an exit status). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	volatile int *p = (volatile int *)(unsigned long)getpid() - getpid();

	printf("crashing\n");
	fflush(stdout);
	*p = 1;
	return 0;
}
